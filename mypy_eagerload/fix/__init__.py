"""``mypy-eagerload fix``: apply the fix notes that are patches (see ``core.patches``).

It runs mypy with the plugin once (the project's configuration), reads every report's fix
note, and applies those that name a query and an exact change: options added to a
``select()`` or merged into its ``.options(...)``, ``options=[...]`` for ``session.get`` and
for calls that take ``options=``, a conflicting or deferring option removed, ``.unique()``
on a result. Imports of the option functions are added. Notes that are advice (the query is
in another function, a ``Loaded[...]`` annotation to widen, an expired attribute) are listed
as skipped with the reason. Needs libcst (the ``annotate`` extra).
"""
