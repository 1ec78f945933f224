"""The competition's pages (Markdown), written from the rules so that they never say otherwise."""
from __future__ import annotations

from .config import Rules


def _verification(rules: Rules, images_mode: str) -> str:
    if images_mode == "none" or rules.verify.sample == 0:
        return ("Verification is **off** on this site: the organizers did not include the images, so the accuracy "
                "that ranks is your output.txt's, checked for format and coverage only. The organizers may verify "
                "the artifacts offline before the final ranking.")
    if rules.verify.sample < 0:
        return ("Every artifact is evaluated on every scored image with the kit's exact reference runtime, and "
                "**its own predictions give the accuracy that ranks**; output.txt is a cross-check. More than "
                f"{rules.verify.max_differences} differing prediction(s) per model reject the submission.")
    return (f"{rules.verify.sample} images per model are evaluated from the artifact and compared with output.txt; "
            f"more than {rules.verify.max_differences} differences reject the submission. The accuracy that "
            "ranks is output.txt's.")


def pages(rules: Rules, title: str, images_mode: str, *, max_per_day: int, max_submissions: int) -> dict[str, str]:
    """file name -> Markdown, in the order the site shows them. `max_per_day` and `max_submissions`:
    the phases' limits, which Codabench applies per participant account (the kit's own
    `submissions_per_day` counts per team, but a Codabench run scores one submission alone)."""
    models = ", ".join(f"`{m}`" for m in rules.models)
    minimum = f"; accuracy at least {rules.min_accuracy}%" if rules.min_accuracy is not None else ""
    daily = (f"Codabench counts them per participant account: at most {max_per_day} a day and "
             f"{max_submissions} in a phase (failed runs do not count). A team submits from one account")
    private = (f"A share of {rules.private_fraction:.0%} of the images is scored but hidden: the leaderboard shows "
               "the public part until the organizers reveal the rest." if rules.private_fraction else
               "Every image counts on the leaderboard.")
    return {
        "overview.md": f"""# {title}

Quantize {models} to low precision **without any real data**: calibrate on synthetic images
(Gaussian noise, ZeroQ, GDFQ, Genie or your own generator), then submit the quantized models and
their predictions on the validation images. The kit (`main.py`, `run.bash`) does all of it.

The ranking rewards the smallest models first and the most accurate second: see *Evaluation*.
""",
        "evaluation.md": f"""# Evaluation

- **Compression** (percent of the FP32 size saved) is measured from your artifacts with the kit's
  size accounting; **top-1 accuracy** comes from the scored images. Per-model figures combine by
  their `{rules.combine}`.
- **Ranking**: compression first (at {rules.compression_precision}%), then accuracy (at
  {rules.accuracy_precision}%), then the earlier submission. Figures are cut to their precision by
  `{rules.rounding}`.
- **Not ranked**: compression at or below {rules.min_compression}%{minimum}. Such a submission
  ends as a failed run whose log gives the reason.
- **Verification**: {_verification(rules, images_mode)}
- {private}
- Submissions: {daily}.
- Each submission's *detailed results* page shows its per-model figures and notes.
""",
        "submitting.md": f"""# Submitting

Build the zip with the kit and check it exactly as the scorer will:

```
bash run.bash --save-dir models > output.txt
python -m scorer pack --output output.txt --models models/ --code my_code/ --out team.zip
```

Then upload **team.zip inside a zip**, so that the scorer receives it unopened and checks it as
`python -m scorer check` does:

```
python -m zipfile -c upload.zip team.zip
```

(An upload of team.zip itself is scored too: the site unzips it first, and the scorer checks the
files it finds.) The starting kit holds an example submission, ready to upload.

A zip holds `output.txt`, `models/<model>.safetensors` for {models}, and `code/` (stored, never
run). Pickle files, links, archives inside the zip and malformed output.txt are refused with
the reason in the run's error log.
""",
        "terms.md": f"""# Terms

- Calibration must use no real image: synthetic data only (the `real-images` generator is a reference,
  not allowed).
- The code in `code/` must produce the submitted artifacts; the organizers may rerun it.
- Scores come from the artifacts you upload, evaluated by the organizers' scorer; its decision is final.
- {title}: by submitting you agree that your team name, figures and submission dates are published.
""",
    }
