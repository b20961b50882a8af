"""Download (or import from a local folder), verify and convert the U-Net paper's datasets.

Run from the repository as ``python data_scripts/fetch.py NAME --dest data`` or, installed with the
package (``pip install "unet-core[data]"``), as ``python -m data_scripts.fetch NAME --dest data``.
``unet_core`` itself never touches the network; this package does (see ``README.md`` here).
"""
