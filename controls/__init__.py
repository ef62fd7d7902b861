"""Controls judge evidence: framework catalogs, check -> control mappings, pure checks.

Empty until the controls issue lands; nothing here may call an API.
"""
