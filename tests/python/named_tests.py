"""The runner of a script of named tests: every function `test_*(lockstep, tmp)` of a module, in
the order defined, each printed as `ok` with what it returns or `FAIL` with its exception; exit
status 1 when any failed. ctest passes `--lockstep BUILD/lockstep --tmp BUILD/test-tmp`.
"""
import argparse
import os
import time


def run_named_tests(namespace, doc, tmp_name):
    """namespace: the module's globals(); doc: its __doc__; tmp_name: its folder under --tmp."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lockstep", required=True)
    ap.add_argument("--tmp", required=True)
    ap.add_argument("-k", default="", help="run only the tests whose name contains this")
    args = ap.parse_args()
    tmp = os.path.join(args.tmp, tmp_name)
    os.makedirs(tmp, exist_ok=True)
    tests = [(name, f) for name, f in namespace.items() if name.startswith("test_") and args.k in name]
    failures = 0
    for name, f in tests:
        start = time.time()
        try:
            detail = f(args.lockstep, tmp)
            print(f"ok    {name} ({time.time() - start:.1f} s): {detail}", flush=True)
        except Exception as e:  # noqa: BLE001 (a failed check or a broken command: both fail)
            failures += 1
            print(f"FAIL  {name} ({time.time() - start:.1f} s): {type(e).__name__}: {e}", flush=True)
    print(f"{len(tests) - failures} passed, {failures} failed")
    return 1 if failures else 0
