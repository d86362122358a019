"""hogo-gateway (保護): keeps DV and abuse victims from being found through automatic data exchange."""

__version__ = "0.1.0"
