rule analyze:
    input:
        model=f"{NETWORK_DIR}/model.pt",
        meta=f"{NETWORK_DIR}/meta.json",
    output:
        f"{NETWORK_DIR}/analysis.nc",
    log:
        f"{RESULTS}/logs/analyze/{NETWORK_PATTERN}.log",
    benchmark:
        f"{RESULTS}/benchmarks/analyze/{NETWORK_PATTERN}.tsv"
    params:
        spec=lambda w: SWEEP.analysis_spec(network_of(w)),
    threads: SWEEP.jobs.analyze_threads
    resources:
        mem_mb=SWEEP.jobs.analyze_mem_mb,
        runtime=SWEEP.jobs.analyze_runtime,
    conda:
        ENV
    script:
        "../scripts/analyze.py"
