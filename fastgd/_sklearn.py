"""From scikit-learn's ``SGDClassifier`` / ``SGDRegressor`` to fastgd's linear estimators: the one
table of how each of their parameters maps (:data:`MAPPING`), read by ``from_sklearn`` and by the
README's migration table (:func:`markdown_table`).

Two differences of definition are converted rather than copied. scikit-learn's ``squared_error``
is ``r**2 / 2`` where fastgd's is the mean squared error ``r**2``: the same model needs twice the
``alpha`` and half the step. And its ``t`` counts samples where fastgd's counts updates, which is
the same thing at ``batch_size=1``, the only batch size scikit-learn has.
"""

#: scikit-learn's parameter -> (fastgd's parameter(s), how the value carries over).
MAPPING = {
    "loss": ("loss", "the same names; scikit-learn's ``squared_error`` is half of fastgd's, so "
                     "``alpha`` is doubled and the step halved"),
    "penalty": ("penalty", "the same"),
    "alpha": ("alpha", "the same (doubled for ``squared_error``)"),
    "l1_ratio": ("l1_ratio", "the same"),
    "fit_intercept": ("fit_intercept", "the same"),
    "max_iter": ("epochs", "the same number of passes"),
    "tol": ("tol", "the same: stop once the loss has not improved by ``tol`` for "
                   "``n_iter_no_change`` epochs"),
    "shuffle": ("shuffle", "the same"),
    "verbose": ("verbose", "a progress bar instead of a log"),
    "epsilon": ("epsilon", "the same (the optimizers' epsilon is ``eps``)"),
    "random_state": ("random_state", "the same seed; the shuffles differ"),
    "learning_rate": ("schedule", "``constant``, ``invscaling``, ``optimal``, ``adaptive``: the "
                                  "same names"),
    "eta0": ("learning_rate", "the step (halved for ``squared_error``); with "
                              "``learning_rate='optimal'`` unused, as in scikit-learn"),
    "power_t": ("power_t", "the same"),
    "early_stopping": ("early_stopping", "the same; fastgd monitors the validation loss, not "
                                         "the score"),
    "validation_fraction": ("validation_fraction", "the same"),
    "n_iter_no_change": ("n_iter_no_change", "the same"),
    "class_weight": ("class_weight", "the same"),
    "warm_start": ("warm_start", "the same"),
    "average": ("average", "the same: True or the update to start averaging from"),
    "n_jobs": (None, "no counterpart: a threaded ``backend`` trains the classes on its threads, "
                     "as ``n_jobs`` does"),
}

#: What the conversion fixes: scikit-learn's SGD is plain SGD on one row at a time, and it damps
#: the intercept's steps on sparse input (its ``SPARSE_INTERCEPT_DECAY``).
FIXED = {"optimizer": "sgd", "batch_size": 1, "sparse_intercept_decay": 0.01}
#: ... and trains one model per class against the rest, for every loss.
CLASSIFIER_FIXED = {"multi_class": "ovr"}


def fastgd_params(sgd):
    """The keyword parameters of the fastgd estimator equivalent to ``sgd`` (an unfitted or fitted
    ``SGDClassifier`` or ``SGDRegressor``)."""
    params = sgd.get_params()
    unknown = set(params) - set(MAPPING)
    if unknown:
        raise ValueError(f"{type(sgd).__name__} has parameters this fastgd version does not know: "
                         f"{sorted(unknown)}; convert them by hand.")
    out = dict(FIXED)
    if type(sgd).__name__ == "SGDClassifier":
        out.update(CLASSIFIER_FIXED)
    for name, value in params.items():
        target = MAPPING[name][0]
        if target is not None and name not in ("learning_rate", "eta0"):
            out[target] = value
    half = params["loss"] == "squared_error"
    if half:
        out["alpha"] = 2 * params["alpha"]
    schedule = params["learning_rate"]
    if schedule == "adaptive" and params["tol"] is None:
        # scikit-learn's adaptive step only falls when the loss stops improving by tol; without
        # tol it never does, where fastgd's would compare with 0
        schedule = "constant"
    out["schedule"] = schedule
    if schedule == "optimal":
        # scikit-learn's first step alpha**-0.25 at its own alpha (BaseGD._set_learning_rate says
        # why there is no divisor); fastgd's "auto" would take the doubled alpha's
        out["learning_rate"] = params["alpha"] ** -0.25 / 2 if half else "auto"
    else:
        out["learning_rate"] = params["eta0"] / 2 if half else params["eta0"]
    return out


#: Why each of ``FIXED`` is set, for the README's table.
FIXED_WHY = {"optimizer": "plain SGD, as scikit-learn's", "batch_size": "one row per update",
             "sparse_intercept_decay": "the intercept's steps damped on sparse input, as "
                                       "scikit-learn does (its ``SPARSE_INTERCEPT_DECAY``)",
             "multi_class": "one-vs-rest for ``log_loss`` too (classifiers)"}


def markdown_table():
    """The README's table: each scikit-learn parameter, its fastgd counterpart and how it maps,
    then what the conversion sets that scikit-learn has no parameter for."""
    lines = ["| scikit-learn | fastgd | how |", "|---|---|---|"]
    for name, (target, how) in MAPPING.items():
        lines.append(f"| `{name}` | {f'`{target}`' if target else '-'} | {how} |")
    for name, value in {**FIXED, **CLASSIFIER_FIXED}.items():
        lines.append(f"| - | `{name}={value!r}` | {FIXED_WHY[name]} |")
    return "\n".join(lines)
