import io

import pytest

from challenge.output_format import FormatError, Section, parse, write_section


def make_section(model="resnet18", n=3):
    return Section(model, "gaussian", "int8", 100, 400, {f"n01/img{i}.JPEG": i for i in range(n)})


def written(*sections) -> bytes:
    stream = io.StringIO()
    for section in sections:
        write_section(stream, section)
    return stream.getvalue().encode()


def test_round_trip_of_concatenated_sections():
    data = written(make_section("resnet18"), make_section("mobilenet_v2", 2))
    sections = parse(data)
    assert [s.model for s in sections] == ["resnet18", "mobilenet_v2"]
    assert sections[0].predictions == make_section().predictions
    assert sections[1].quantized_bytes == 100 and sections[1].fp32_bytes == 400
    assert sections[1].header_line == 5


@pytest.mark.parametrize("mutate, message", [
    (lambda d: b"\xef\xbb\xbf" + d, "byte-order mark"),
    (lambda d: d.replace(b"\n", b"\r\n"), "carriage return"),
    (lambda d: d + b"\xff\xfe\n", "UTF-8"),
    (lambda d: d[:-1], "newline"),
    (lambda d: d.replace(b"\t1\n", b"\t01\n"), "class index"),
    (lambda d: d.replace(b"\t1\n", b"\t-1\n"), "class index"),
    (lambda d: d.replace(b"img1", b"img0"), "twice"),
    (lambda d: d.replace(b"num_images=3", b"num_images=4"), "declares 4"),
    (lambda d: d.replace(b"#dfq-output v1", b"#dfq-output v9"), "version"),
    (lambda d: d.replace(b"\tscheme=int8", b""), "lacks scheme"),
    (lambda d: d.replace(b"fp32_bytes=400", b"fp32_bytes=4e2"), "integer"),
    (lambda d: b"n01/x.JPEG\t1\n" + d, "before any section"),
    (lambda d: d + b"\n", "blank line"),
    (lambda d: d + d, "second section"),
    (lambda d: b"", "empty"),
])
def test_strict_reader_names_the_problem(mutate, message):
    with pytest.raises(FormatError, match=message):
        parse(mutate(written(make_section())))


def test_writer_refuses_a_tab_in_a_path():
    section = make_section()
    section.predictions = {"bad\tname.JPEG": 1}
    with pytest.raises(Exception, match="cannot be written"):
        write_section(io.StringIO(), section)


@pytest.mark.parametrize("value", ["²", "١٢", "007"])
def test_header_numbers_are_plain_ascii_integers(value):
    data = written(make_section()).replace(b"quantized_bytes=100", f"quantized_bytes={value}".encode())
    with pytest.raises(FormatError, match="quantized_bytes"):
        parse(data)
