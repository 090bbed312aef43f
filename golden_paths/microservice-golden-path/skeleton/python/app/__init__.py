"""The ${{ values.name }} service (created from the microservice golden path)."""

SERVICE_NAME = "${{ values.name }}"
DESCRIPTION = ${{ values.description | dump }}
VERSION = "0.1.0"
