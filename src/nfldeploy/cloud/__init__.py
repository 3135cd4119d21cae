"""One facade per cloud SDK: ``aws`` (boto3/botocore) and ``gcp`` (google-auth, google-cloud-run). They hold
credential discovery, client factories, registry logins and the translation of the SDK's errors into
nfldeploy's; ``image/``, ``targets/``, ``smoke/``, ``serving/`` and ``doctor`` reach the clouds through them
only (tests/unit/test_layers.py keeps it so). The Docker SDK's facade is ``image/engine.py``."""
