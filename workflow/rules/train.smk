# One training job per grid cell and group of seeds (jobs.seeds_per_job): the seeds of a
# group are trained together as one ensemble but saved one folder per network. A rule is
# defined per seed group so that every output names its seed.

JOBS = SWEEP.jobs


def _train_resources():
    resources = {"mem_mb": JOBS.train_mem_mb, "runtime": JOBS.train_runtime}
    if JOBS.train_gpus > 0:
        resources["gpu"] = JOBS.train_gpus
    return resources


for _seeds in SWEEP.seed_groups():
    _first, _last = _seeds[0], _seeds[-1]
    _folders = [f"{RESULTS}/networks/{CELL_PATTERN}/seed{s}" for s in _seeds]

    rule:
        name:
            f"train_seeds_{_first}_{_last}"
        output:
            models=[f"{folder}/model.pt" for folder in _folders],
            curves=[f"{folder}/training.nc" for folder in _folders],
            metas=[f"{folder}/meta.json" for folder in _folders],
        log:
            f"{RESULTS}/logs/train/{CELL_PATTERN}/seeds{_first}-{_last}.log",
        benchmark:
            f"{RESULTS}/benchmarks/train/{CELL_PATTERN}/seeds{_first}-{_last}.tsv"
        params:
            specs=lambda w, seeds=_seeds: [
                SWEEP.training_spec(network_of(w, s)) for s in seeds
            ],
            folders=lambda w, seeds=_seeds: [
                network_folder(network_of(w, s)) for s in seeds
            ],
            device=JOBS.device,
        threads: JOBS.train_threads
        resources:
            **_train_resources(),
        conda:
            ENV
        script:
            "../scripts/train.py"
