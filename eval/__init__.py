"""The evaluation datasets (see README.md), installed as the package `qa.eval` so that `qa eval` finds
them in an installed wheel as well as in a checkout."""
