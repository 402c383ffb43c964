"""``mypy-eagerload annotate``: write what each function reads as ``Loaded[...]`` annotations.

The pipeline, one module a step:

* ``collect`` runs mypy once over the project (its own configuration, the plugin enabled,
  bodies and expression types kept, incrementally with a cache of its own) and records, per
  function, which relationship paths it reads on each model-typed parameter and which
  project functions it passes them to (mypy glue);
* ``facts`` keeps those records per module between runs, for the modules mypy finds fresh;
* ``infer`` propagates requirements through those calls to a fixpoint (plain Python);
* ``rewrite`` turns the result into edits of the source with libcst, keeping formatting;
* ``cli`` is the command line (``--diff``, ``--check``, ``--exclude``, ``--explain``).

Why a separate step and not the plugin: a call site cannot read the callee's body in every
mypy mode (bodies are freed after checking and absent from the cache), so following objects
across functions inside the plugin would give different answers cold, warm and under dmypy.
Written down as annotations, the requirement is part of the signature and every mode sees it.
"""
