"""Controls judge evidence: framework catalogs, check -> control mappings, pure checks.

Nothing here may call an API or touch the store. Importing the package registers every check.
"""

from controls import checks

__all__ = ["checks"]
