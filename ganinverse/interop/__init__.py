"""Adapters to other packages (optional dependencies, imported only when used).

``ganinverse.interop.deepinv``: deepinv's physics as ganinverse operators (``from_deepinv``) and
ganinverse generators as deepinv backbones (``as_deepinv_generator``); needs
``pip install ganinverse[deepinv]``.
"""
