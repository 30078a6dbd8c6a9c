"""Studies over many runs: the experiment, its report, the benchmark, float fine-tuning."""
