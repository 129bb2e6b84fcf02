"""The papers' published numbers that the course sets its own beside: pure data, importing nothing of the
course, so that every module that shows them (the report, the showdown, the notebooks) reads them from here."""

#: Published accuracies (%) on Omniglot, vinyals protocol, Conv-4: 5w1s, 5w5s, 20w1s, 20w5s.
PAPERS = {
    "protonet": ("Prototypical Nets (Snell et al. 2017, Table 1)", (98.8, 99.7, 96.0, 98.9)),
    "matching": ("Matching Nets (Vinyals et al. 2016, as tabled by Snell et al. 2017)", (98.1, 98.9, 93.8, 98.5)),
    "maml": ("MAML (Finn et al. 2017, Table 1; transductive batch norm)", (98.7, 99.9, 95.8, 98.9)),
    "relation": ("Relation Net (Sung et al. 2018)", (99.6, 99.8, 97.6, 99.1)),
}
#: Official 20 runs, error %: (Lake et al. 2015).
LAKE_RUNS = {"humans": 4.5, "Bayesian Program Learning": 3.3, "deep Siamese convnet": 8.0, "deep convnet": 13.5}
