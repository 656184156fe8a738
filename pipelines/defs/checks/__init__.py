"""Asset checks per domain; the check logic lives in warehouse/checks/."""
