"""The instructor studio of assessments: question banks, quiz set-up and item analysis."""
