"""Fixtures of the fleet tests: a real redis-server of our own on a free loopback port."""

from redis_fixtures import redis_client, redis_url

__all__ = ["redis_client", "redis_url"]  # fixtures, found by pytest under these names
