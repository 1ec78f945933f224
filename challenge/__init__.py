"""The organizer-owned core of the data-free quantization challenge kit."""

# 1.1.0: weights below 8 bits may use every b-bit code, [-2^(b-1), 2^(b-1)-1] (size.weight_grid);
# a 1.0 scorer rejects such an artifact's lowest level, so organizers score with 1.1 or later.
__version__ = "1.1.0"
