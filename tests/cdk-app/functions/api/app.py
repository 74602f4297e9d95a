import shared_utils


def handler(event, context):
    return shared_utils.greet("api")
