n: ${{ values.name }}
