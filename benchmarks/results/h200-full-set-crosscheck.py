"""On the GPU: the artifacts' predictions with exact_int8 switched off (PyTorch's own convolution,
float32 integer sums) against output.txt, made with it on, for the first N images. Run with
DFQ_EXACT_KERNELS=0 DFQ_CUDA_GRAPHS=0 it also leaves out the Triton kernels and the graphs:
PyTorch's ops only, one call at a time.
    python h200-full-set-crosscheck.py OUTPUT.txt TREE CACHE_DIR MODELS_DIR N WNIDS"""
import sys, json, torch
sys.path.insert(0, '.')
from challenge import data, evaluate, image_cache, output_format, runtimes
from challenge.quant import exact_int8
output, tree, cache, models, count = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
sections = {s.model: s for s in output_format.parse(open(output, 'rb').read())}
records = data.list_images(tree, data.read_class_list(sys.argv[6]))
cached = image_cache.open_images(cache, tree, records)
exact_int8.applies = lambda layer, device: False
result = {}
for name, section in sections.items():
    model, _ = runtimes.load_model(f"{models}/{name}.safetensors", device="cuda")
    batches = cached.batches(256, indices=range(count), pin_memory=True)
    classes = evaluate.predict_batches(model, batches, "cuda", count).classes
    expected = [section.predictions[r.path] for r in records[:count]]
    result[name] = {"images": count, "differ": sum(a != b for a, b in zip(classes, expected))}
print(json.dumps(result))
