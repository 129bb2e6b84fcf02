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

#: Published accuracies (%) on mini-ImageNet (the Ravi and Larochelle split, 5-way, 15 queries per class):
#: ``(paper, backbone, (5w1s, 5w5s))``, by the course's method name, Conv-4 first; ResNet rows as published.
MINI_PAPERS = {
    "matching": [("Matching Nets (Vinyals et al. 2016)", "Conv-4", (43.56, 55.31)),
                 ("Matching Nets (the few-shot leaderboard)", "ResNet-12", (63.08, 75.99))],
    "protonet": [("Prototypical Nets (Snell et al. 2017; 30-way 1-shot, 20-way 5-shot training)", "Conv-4",
                  (49.42, 68.20)),
                 ("Prototypical Nets (the few-shot leaderboard)", "ResNet-12", (60.37, 78.02))],
    "maml": [("MAML (Finn et al. 2017; 32 filters)", "Conv-4", (48.70, 63.11))],
    "relation": [("Relation Net (Sung et al. 2018)", "Conv-4", (50.44, 65.32))],
    "baseline": [("Baseline (Chen et al. 2019, A Closer Look)", "Conv-4", (42.11, 62.53)),
                 ("Baseline++ (Chen et al. 2019, A Closer Look)", "Conv-4", (48.24, 66.43)),
                 ("Baseline (Chen et al. 2019)", "ResNet-18", (51.75, 74.27)),
                 ("Baseline++ (Chen et al. 2019)", "ResNet-18", (51.87, 75.68)),
                 ("RFS-simple (Tian et al. 2020, a good embedding is all you need)", "ResNet-12", (62.02, 79.64)),
                 ("RFS-distill (Tian et al. 2020)", "ResNet-12", (64.82, 82.14))],
}
