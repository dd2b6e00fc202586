"""One module per `dvc.yaml` stage, named as the stage.

Each module holds a frozen `Paths` (the stage's explicit inputs and outputs, as in
`dvc.yaml`) and `run(params, paths) -> str`: read the inputs, call the pure cores elsewhere
in the package, write the outputs atomically, return a one-line summary. `pipeline/cli.py`
only parses options into those two arguments. `tests/test_dvc_deps.py` holds each stage's
`deps:` in `dvc.yaml` to the package modules its module imports, so an edited module can
never leave `dvc repro` reporting stale results as up to date.
"""
