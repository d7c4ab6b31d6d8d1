from jirabridge import errors


def test_status_maps_to_the_specific_error() -> None:
    assert errors.api_error_for_status(401) is errors.AuthenticationError
    assert errors.api_error_for_status(429) is errors.RateLimitedError
    assert errors.api_error_for_status(503) is errors.ServerError
    assert errors.api_error_for_status(418) is errors.ApiError


def test_no_response_and_error_response_are_separate_branches() -> None:
    assert issubclass(errors.TimeoutError_, errors.TransportError)
    assert not issubclass(errors.TimeoutError_, errors.ApiError)
    assert issubclass(errors.ReauthorizationRequired, errors.AuthenticationError)
    assert issubclass(errors.ApiError, errors.JirabridgeError)
