"""The organizer-owned core of the data-free quantization challenge kit."""

__version__ = "1.0.0"
