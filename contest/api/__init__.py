"""The JSON API (/api/v1) for apps and mini-programs: bearer tokens, an OpenAPI document."""
