"""csq benchmarks: `python -m bench` runs them all, `python -m bench store|server`
one. They print figures beside a baseline measured in the same run; they never
fail on a slow machine. Figures and commands are recorded in docs/benchmarks.md."""
