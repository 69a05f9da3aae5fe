"""Generated documentation: man pages, shell completions, the JSON Schema, the key reference.

Built from the settings table and the commands' own parsers, so it may import every part and
``cli``; nothing imports it but ``cli`` (``schema``) and packaging at build time.
"""
