"""mlops-server: the platform server of jupyter-mlops (SharingHub-compatible catalog)."""

__version__ = "0.1.0"
