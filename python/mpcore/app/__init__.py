"""The application: the command line, sweeps over policies, plots, datasets and the
embedded default (a trained MNIST network and test images)."""
