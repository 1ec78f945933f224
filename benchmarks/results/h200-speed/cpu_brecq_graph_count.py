"""How many graphs would a whole reconstruction step compiled per unit need? (issue 20, 2026-12-06)
Traces each brecq unit's block forward and loss with a counting backend and dynamic shapes on the CPU
(MobileNetV2, 64 px). Usage: TORCH_LOGS=recompiles PYTHONPATH=. python benchmarks/results/h200-speed/cpu_brecq_graph_count.py mobilenet_v2"""
import sys, torch, torchvision, torch._dynamo
from torch._dynamo.testing import CompileCounter
import challenge.quant.methods._trainer as T
import challenge.quant.methods._fused as F
from challenge.compiling import dynamic_settings
from challenge.quant import get_scheme, quantize_model
dynamic_settings()
torch._dynamo.config.recompile_limit = 64
torch._dynamo.config.cache_size_limit = 64
counter = CompileCounter()
def fwd(block, x, y):
    return (block(x) - y).pow(2).sum(1).mean()
compiled = torch.compile(fwd, backend=counter, dynamic=True)
# inside an outer compile trace the chains eagerly
orig = F._on_gpu_compiled
def step(self):
    s = self.settings
    index = self.sched["index"].index_select(0, self.counter).view(-1)
    x = self.x_q.take(index)
    loss = compiled(self.block, x, self.y_fp.take(index))
    loss.backward()
    for o in self.optimisers: o.step()
    with torch.no_grad(): self.counter.add_(1)
T.UnitTrainer.step = step
arch = sys.argv[1]
torch.manual_seed(0)
m = torchvision.models.get_model(arch, num_classes=10).eval()
quantize_model(m, get_scheme("w4a8"), [torch.randn(8, 3, 64, 64)], method="brecq",
               method_kwargs={"iterations": 2, "batch_size": 4, "drop_prob": 0.0})
print(arch, "graphs", counter.frame_count, "ops", counter.op_count)
