"""The RunPod serverless target: apps, environments, builds and endpoints through RunPod's API.

``credentials`` finds the API key, ``graphql`` speaks to the API, ``upload`` puts the
artifact where the presigned URL says, ``resources`` turns manifest resources into the
template and endpoint fields RunPod stores (and compares them with what it stores),
``target`` plans and applies a deployment.
"""
