"""Everything that touches the outside: the store (repositories.py, queue.py), peer services
(peers.py), the channels' providers (channels.py), template files and proto mapping."""
