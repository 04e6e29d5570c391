"""The built-in ``image-import`` extension: interoperable image import (``glance-direct``, ``web-download``)."""
