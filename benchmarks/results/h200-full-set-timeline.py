"""A warm run of main.py, stamped: imports, CUDA start, each model, end of main (stderr, JSON).
    python benchmarks/results/h200-full-set-timeline.py [main.py options] > output.txt"""
import time
T0 = time.time()
import json, sys
sys.path.insert(0, '.')
stamps = {}
def stamp(name): stamps[name] = round(time.time() - T0, 2)
import torch; stamp('import torch')
import torchvision; stamp('import torchvision')
import triton; stamp('import triton')
import main as entry; stamp('import kit')
torch.zeros(1, device='cuda'); stamp('cuda init')
from challenge import runner
original = runner.run
def timed(args, *a, **k):
    result = original(args, *a, **k); stamp(f'done {args.model}'); return result
runner.run = timed
entry.run = timed
code = entry.main(sys.argv[1:]); stamp('main returned')
sys.stdout.flush()
stamps['end_epoch'] = time.time()
print('TIMELINE ' + json.dumps(stamps), file=sys.stderr)
