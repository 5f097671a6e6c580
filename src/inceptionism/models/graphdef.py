"""Just enough of TensorFlow's GraphDef protobuf to read (and, for tests, write) frozen graphs.

The wire format is decoded by hand, so TensorFlow and protobuf are not needed. Only
the fields a frozen inference graph uses are read: each node's name, op, inputs and
attributes (ints, floats, strings, lists of them, and constant float32 and int32 tensors;
a tensor of another type reads as an empty array). tests/test_inception5h.py holds the reader
to a graph TensorFlow itself wrote.

    GraphDef    { repeated NodeDef node = 1; }
    NodeDef     { string name = 1; string op = 2; repeated string input = 3; map<string, AttrValue> attr = 5; }
    AttrValue   { ListValue list = 1; bytes s = 2; int64 i = 3; float f = 4; bool b = 5; int32 type = 6;
                  TensorShapeProto shape = 7; TensorProto tensor = 8; }
    ListValue   { repeated bytes s = 2; repeated int64 i = 3; repeated float f = 4; }
    TensorProto { int32 dtype = 1; TensorShapeProto tensor_shape = 2; bytes tensor_content = 4;
                  repeated float float_val = 5; repeated int32 int_val = 7; }
    TensorShapeProto { repeated Dim dim = 2; }   Dim { int64 size = 1; }
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

__all__ = ["Node", "parse_graph", "encode_graph", "GRAPH_NAME"]

GRAPH_NAME = "tensorflow_inception_graph.pb"  # the classic notebooks' frozen graph (inside inception5h.zip)
DT_FLOAT, DT_INT32 = 1, 3
_KINDS = {DT_FLOAT: "<f4", DT_INT32: "<i4"}  # the tensors read: their types as laid out in tensor_content


@dataclass
class Node:
    name: str
    op: str
    inputs: list[str] = field(default_factory=list)
    attr: dict[str, Any] = field(default_factory=dict)  # ints, floats, bytes, lists, or np.ndarray tensors


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, value) for each field of a message."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos : pos + length], pos + length
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _tensor(data: bytes) -> np.ndarray:
    dtype, shape, content, values = DT_FLOAT, [], b"", []
    for number, wire, value in _fields(data):
        if number == 1:
            dtype = value
        elif number == 2:
            shape = [_signed(v) for n, _, dim in _fields(value) if n == 2 for m, _, v in _fields(dim) if m == 1]
        elif number == 4:
            content = value
        elif number == 5:
            values.extend(struct.unpack(f"<{len(value) // 4}f", value) if wire == 2 else struct.unpack("<f", value))
        elif number == 7:
            values.extend(_varints(value) if wire == 2 else [_signed(value)])
    if dtype not in _KINDS:
        return np.zeros(0, np.float32)  # neither float32 weights nor int32 settings
    kind = np.dtype(_KINDS[dtype])
    array = np.frombuffer(content, kind).copy() if content else np.array(values, kind)
    count = int(np.prod(shape)) if shape else array.size
    if array.size == 1 and count > 1:
        array = np.full(count, array[0], kind)
    return (array.reshape(shape) if shape else array).astype(kind.newbyteorder("="))


def _varints(data: bytes) -> list[int]:
    """A packed run of varints (signed 64-bit)."""
    items, pos = [], 0
    while pos < len(data):
        value, pos = _varint(data, pos)
        items.append(_signed(value))
    return items


def _list(data: bytes) -> list:
    items: list = []
    for number, wire, value in _fields(data):
        if number == 2:
            items.append(value)
        elif number == 3:
            items.extend(_varints(value) if wire == 2 else [_signed(value)])  # packed, or one
        elif number == 4:
            items.extend(struct.unpack(f"<{len(value) // 4}f", value) if wire == 2 else struct.unpack("<f", value))
    return items


def _attr_value(data: bytes) -> Any:
    for number, _, value in _fields(data):
        if number == 1:
            return _list(value)
        if number == 2:
            return value
        if number in (3, 6):
            return _signed(value)
        if number == 4:
            return struct.unpack("<f", value)[0]
        if number == 5:
            return bool(value)
        if number == 8:
            return _tensor(value)
    return None


def _node(data: bytes) -> Node:
    node = Node("", "")
    for number, _, value in _fields(data):
        if number == 1:
            node.name = value.decode()
        elif number == 2:
            node.op = value.decode()
        elif number == 3:
            node.inputs.append(value.decode())
        elif number == 5:
            key, attr = "", None
            for n, _, v in _fields(value):
                if n == 1:
                    key = v.decode()
                elif n == 2:
                    attr = _attr_value(v)
            node.attr[key] = attr
    return node


def parse_graph(data: bytes) -> list[Node]:
    """The nodes of a serialized GraphDef."""
    return [_node(value) for number, _, value in _fields(data) if number == 1]


# --- writing (for tests: build a graph with the real one's naming scheme) -------------


def _key(number: int, wire: int) -> bytes:
    return _enc_varint((number << 3) | wire)


def _enc_varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _bytes_field(number: int, payload: bytes) -> bytes:
    return _key(number, 2) + _enc_varint(len(payload)) + payload


def _enc_attr(value: Any) -> bytes:
    if isinstance(value, np.ndarray):
        dims = b"".join(_bytes_field(2, _key(1, 0) + _enc_varint(d)) for d in value.shape)
        tensor = _key(1, 0) + _enc_varint(DT_FLOAT) + _bytes_field(2, dims) + _bytes_field(4, value.astype("<f4").tobytes())
        return _bytes_field(8, tensor)
    if isinstance(value, list):
        packed = b"".join(_enc_varint(v) for v in value)
        return _bytes_field(1, _bytes_field(3, packed))
    if isinstance(value, bytes):
        return _bytes_field(2, value)
    if isinstance(value, float):
        return _key(4, 5) + struct.pack("<f", value)
    return _key(3, 0) + _enc_varint(int(value))


def encode_graph(nodes: list[Node]) -> bytes:
    """Serialize nodes as a GraphDef."""
    out = bytearray()
    for node in nodes:
        body = _bytes_field(1, node.name.encode()) + _bytes_field(2, node.op.encode())
        body += b"".join(_bytes_field(3, i.encode()) for i in node.inputs)
        for key, value in node.attr.items():
            body += _bytes_field(5, _bytes_field(1, key.encode()) + _bytes_field(2, _enc_attr(value)))
        out += _bytes_field(1, body)
    return bytes(out)
