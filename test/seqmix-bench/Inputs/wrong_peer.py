"""A peers module whose one peer is off by 1 %: seqmix-bench must say so."""
import peers


def run(layer_json, buffers, shapes, reps, warmup, threads, max_seconds):
    results = peers.run(layer_json, buffers, shapes, reps, warmup, threads, max_seconds)
    for r in results:
        r["name"] = "wrong." + r["name"]
        r["outputs"] = [o * 1.01 for o in r["outputs"]]
    return results
