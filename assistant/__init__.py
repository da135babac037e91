"""ungp-assistant: grounded, cited answers about the UN Guiding Principles, from UN Special Procedures
letters."""
