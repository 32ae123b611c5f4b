"""CURL-SAC, pixel SAC and state SAC: networks.py and agent.py."""
