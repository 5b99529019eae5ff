"""Real server processes shared by tests/ and bench/: a fresh database per server, gunicorn deployments
(servers.py), deploy/nginx.conf on loopback (nginx.py), our server set up for load with its /proc readings
(load.py) and the mixed-load soak (soak.py).

It launches processes and speaks HTTP to them: it imports none of the apps nor the site package, so a
test or a benchmark sees the server only from outside, as a client does.
"""
