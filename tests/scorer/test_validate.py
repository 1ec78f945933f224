"""Cross-checks of output.txt against the ground truth, the 2021 format, and the config reader."""
import numpy as np
import pytest

from challenge.errors import KitError
from challenge.output_format import parse
from scorer.config import Legacy2021, load_rules
from scorer.groundtruth import parse_ground_truth
from scorer.legacy2021 import is_legacy, parse_legacy
from scorer.validate import ValidationError, validate
from scorer_helpers import MODELS, image_names, output_text

FILES = image_names(12)
LABELS = [i % 10 for i in range(12)]


def _truth(files=FILES, labels=LABELS, **kwargs):
    csv = "file,index\n" + "".join(f"{f},{l}\n" for f, l in zip(files, labels))
    return parse_ground_truth(csv.encode(), 10, **kwargs)


def _validate(data, truth=None):
    return validate(parse(data), truth or _truth(), MODELS, 10)


def test_aligned_predictions_follow_ground_truth_order():
    shuffled = list(reversed(FILES))
    labels = {m: [LABELS[FILES.index(f)] for f in shuffled] for m in MODELS}
    truth = _truth()
    aligned = _validate(output_text(shuffled, labels), truth)
    expected = [LABELS[FILES.index(f)] for f in truth.files]  # ground truth order: sorted paths
    for model in MODELS:
        assert np.array_equal(aligned[model], np.array(expected))


@pytest.mark.parametrize("change, reason", [
    (lambda f, l: (f[:-1], {m: l[:-1] for m in MODELS}), "lacks 1 of the 12 images"),
    (lambda f, l: (f[:-1] + ["x/unknown.JPEG"], {m: l for m in MODELS}), "not in the ground truth"),
    (lambda f, l: (f, {m: l[:-1] + [10] for m in MODELS}), "outside \\[0, 10\\)"),
    (lambda f, l: (f, {m: l for m in MODELS[:2]}), "no section for shufflenet_v2_x1_0"),
    (lambda f, l: (f, {**{m: l for m in MODELS}, "vgg16": l}), "not part of this challenge"),
])
def test_coverage_and_range_errors(change, reason):
    files, labels = change(FILES, LABELS)
    with pytest.raises(ValidationError, match=reason):
        _validate(output_text(files, labels))


def test_error_names_the_line():
    labels = {m: LABELS for m in MODELS}
    labels["mobilenet_v2"] = LABELS[:5] + [99] + LABELS[6:]
    with pytest.raises(ValidationError, match="line 20: class index 99"):
        _validate(output_text(FILES, labels))


def test_name_only_ground_truth_matches_by_file_name():
    names = [f.rsplit("/", 1)[1] for f in FILES]
    truth = _truth(names)
    aligned = _validate(output_text(FILES, {m: LABELS for m in MODELS}), truth)
    assert np.array_equal(aligned["resnet18"], truth.labels)


def test_private_split_is_deterministic():
    files = image_names(2000)
    a = _truth(files, [0] * 2000, private_fraction=0.3, split_seed="s")
    b = _truth(files, [0] * 2000, private_fraction=0.3, split_seed="s")
    assert np.array_equal(a.private, b.private)
    assert 0.25 < a.private.mean() < 0.35


def test_legacy_needs_image_order_and_says_so():
    data = b"In (MB): 11.2\n1\n2\nIn (MB): 3.5\n1\n2\nIn (MB): 2.1\n1\n2\n"
    assert is_legacy(data)
    with pytest.raises(ValidationError, match="image_order"):
        parse_legacy(data, Legacy2021())
    sections = parse_legacy(data, Legacy2021(), image_order=["a.JPEG", "b.JPEG"])
    assert [s.model for s in sections] == list(MODELS)
    assert sections[0].predictions == {"a.JPEG": 1, "b.JPEG": 2}
    assert sections[0].quantized_bytes == round(11.2 * 2**20)


def test_legacy_block_count_mismatch():
    with pytest.raises(ValidationError, match="2 labels but the image order lists 3"):
        parse_legacy(b"In (MB): 1\n1\n2\nIn (MB): 1\n1\n2\nIn (MB): 1\n1\n2\n", Legacy2021(),
                     image_order=["a", "b", "c"])


def test_config_reads_toml_and_refuses_typos(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[challenge]\nmodels = ["resnet18"]\nground_truth = "gt.csv"\n'
                    '[rules]\nmin_compression = 50\n[verify]\nsample = 10\n', encoding="utf-8")
    rules = load_rules(path)
    assert rules.models == ("resnet18",) and rules.min_compression == 50.0 and rules.verify.sample == 10
    assert rules.ground_truth == str(tmp_path / "gt.csv")
    path.write_text("[rules]\nmin_compresion = 50\n", encoding="utf-8")
    with pytest.raises(KitError, match="unknown key 'min_compresion'"):
        load_rules(path)
    path.write_text("[rules]\nworkers = 'two'\n", encoding="utf-8")
    with pytest.raises(KitError, match="expected an integer"):
        load_rules(path)


def test_verdict_allows_max_differences_and_reports_the_direction():
    import numpy as np

    from scorer.config import Verification
    from scorer.verify import Checked, Verifier

    verdict = Verifier.verdict
    holder = type("V", (), {"settings": Verification(max_differences=2)})()
    assert verdict(holder, "m", Checked(1000, np.zeros(1000), 2, gained=2, lost=0)) == ""
    reason = verdict(holder, "m", Checked(1000, np.zeros(1000), 3, gained=3, lost=0))
    assert "differs from the artifact's predictions on 3 of 1000 images (output.txt right on 3" in reason
    assert "more than 2" in reason
