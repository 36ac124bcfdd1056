"""X12 adapter: delimiters, tokenizer and serializer, envelope checks, 837P claims."""
from x12.errors import X12SyntaxError
from x12.reader import read_x12, read_x12_bytes
from x12.tokenizer import Delimiters, Segment, decode, serialize, tokenize

__all__ = ["X12SyntaxError", "read_x12", "read_x12_bytes", "Delimiters", "Segment", "decode",
           "serialize", "tokenize"]
