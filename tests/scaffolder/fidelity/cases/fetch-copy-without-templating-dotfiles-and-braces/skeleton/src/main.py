print("${{ values.name }}")
