"""${{ values.name }}: ${{ values.description }}"""

SERVICE_NAME = "${{ values.name }}"
VERSION = "0.1.0"
