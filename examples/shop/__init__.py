"""A layered shop: models, a generic repository base, concrete repositories with option
providers and statement builders, services, handlers and FastAPI routes (issue 17).

    cd examples && python -m mypy --config-file mypy.ini shop    # the plugin's view
    cd examples && python -m shop.demo                            # what really happens
"""
