"""Stage 7: the HTTP surfaces, each a Flask blueprint over `engine.api.Engine`; `server.py`
builds the app from them. The only package (with server.py) that imports Flask.

    rest      Cube's REST API: /cubejs-api/v1/load|sql|dry-run|meta, /readyz, /livez
    graphql   Cube's GraphQL API: /cubejs-api/graphql
    gitlab    GitLab's product-analytics API: /api/v4/projects/:id/product_analytics/request/*
    duo       GitLab's GraphQL for Duo AI analytics: /api/graphql, /api/duo/ai-metrics.csv
    auth      every surface's credentials: Cube's JWT, GitLab's tokens, Duo's callers
    tenants   which Engine (whose data) a request reads
    http      request parameters and JSON responses, shared by the routes
"""
