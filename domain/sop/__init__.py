"""The district SOPs as data: each district's profile and the data-sharing matrix.

``profiles/<district>.toml`` says one district's time standards ("Mutu Baku -
Waktu") and register code; ``sharing.toml`` says what each agency may learn
of a case it was referred. They are domain, not configuration plumbing: they
state the SOP's own rules (how long a step may take, which agency needs which
fact), and their validation (domain/time_standards.py, domain/sharing_matrix.py)
speaks the SOP's vocabulary. Reading them from disk, and a deployment's own
overrides, is the services' part (services/profiles.py, services/sharing.py).
"""
