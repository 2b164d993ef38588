"""北京市国资委 高技能人才数据平台: intake, marts, expectations and analyst exports."""
