"""The parts of :func:`jupyter_mlops.publish`: files, metadata and MLM, and the two targets
(GitLab, the embedded local store)."""
