"""The integer core: the method registry, the config table, blobs, the numpy reference and the host build of the C library."""
